//! `inspect`: what a snapshot file is, without writing anything.

use std::path::{Path, PathBuf};

use clap::Args;
use elastickv_codec::container::datadir;
use elastickv_codec::container::offload::{self, OffloadManifest};
use elastickv_codec::container::{Footer, Wrapper};
use elastickv_codec::dispatch::AdapterSet;
use elastickv_codec::scan::{self, DecodeError, Scan, ScanOptions, UnknownRow};
use serde_json::json;

use elastickv_codec::adapter::Warnings;
use elastickv_codec::pipeline::{self, Progress};

use crate::failure::Failure;
use crate::progress::Bar;
use crate::render;

#[derive(Debug, Args)]
pub struct Opts {
    /// The snapshot file (.fsm).
    #[arg(required_unless_present = "data_dir", conflicts_with = "data_dir")]
    file: Option<PathBuf>,
    /// List every snapshot of a node's raft group directory (index, size, container,
    /// footer, raft record) instead of inspecting one file.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The `offload publish` manifest of a footer-less payload: checked against it.
    #[arg(long, conflicts_with = "data_dir")]
    offload_manifest: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Where unsorted input is sorted (default: the system temp dir).
    #[arg(long)]
    scratch_root: Option<PathBuf>,
    /// List the first entries no prefix routes (hex and printable).
    #[arg(long)]
    unknown: bool,
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    let Some(file) = opts.file.clone() else {
        let dir = opts.data_dir.clone().unwrap_or_default();
        return list_data_dir(&dir, opts.json);
    };
    let offload = match &opts.offload_manifest {
        Some(path) => Some(
            offload::read_offload_manifest(path)
                .and_then(|m| offload::verify_payload(&file, &m).map(|()| m))
                .map_err(|e| Failure::from_error(&format!("inspect {}", file.display()), &e))?,
        ),
        None => None,
    };
    inspect_file(&opts, &file, offload.as_ref())
}

fn inspect_file(
    opts: &Opts,
    file: &Path,
    offload: Option<&OffloadManifest>,
) -> Result<(), Failure> {
    pipeline::check_scratch_root(opts.scratch_root.as_deref())
        .map_err(|e| Failure::from_dump(&e))?;
    let options = ScanOptions {
        enabled: AdapterSet::ALL,
        scratch_dir: opts.scratch_root.clone().unwrap_or_else(std::env::temp_dir),
        sort_memory_bytes: 256 << 20,
    };
    let mut bar = Bar::for_stderr();
    let total = std::fs::metadata(file).ok().map(|m| m.len());
    bar.phase("reading", total);
    let scanned = scan::inspect_file(file, &options, &mut |bytes, entries| {
        bar.update(bytes, entries)
    });
    bar.finish();
    let fail = |e: &DecodeError| Failure::from_error(&format!("inspect {}", file.display()), e);
    let scan = scanned.map_err(|e| fail(&e))?;
    if let Some(manifest) = offload {
        pipeline::check_decoded_payload(&scan, file, manifest).map_err(|e| fail(&e))?;
    }
    let index = offload
        .map(|m| m.snapshot_index)
        .or_else(|| scan::snapshot_index_from_path(file));
    let mut warnings = Warnings::default();
    if scan.footer_missing() && offload.is_none() {
        // Reported, not refused: inspect is how an operator finds out what is wrong.
        warnings.push(
            scan::FOOTER_MISSING_EVENT,
            scan::footer_missing_fields(scan.header.wrapper.magic(), scan.bytes),
        );
    }
    scan::warn_unexported(&scan, &mut warnings);
    render::print_warnings(&warnings);
    if opts.json {
        let mut report = render_json(&scan, index);
        report["warnings"] = render::warnings_json(&warnings);
        report["offload_manifest"] = offload.map_or(json!(null), |m| {
            json!({"path": m.path.to_string_lossy(), "verified": true,
                   "group_id": m.group_id, "snapshot_term": m.snapshot_term})
        });
        if opts.unknown {
            report["unknown_rows"] = unknown_rows_json(&scan.unknown_rows);
        }
        println!("{report:#}");
    } else {
        print_text(file, &scan, index);
        if let Some(m) = offload {
            println!(
                "offload         payload verified against {} (length, SHA-256, CRC32C); group {}, term {}",
                m.path.display(),
                m.group_id,
                m.snapshot_term
            );
        }
        if opts.unknown {
            print_unknown_rows(&scan);
        }
    }
    Ok(())
}

/// `key` as text a terminal can show: printable ASCII kept, the rest escaped.
fn printable(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

fn unknown_rows_json(rows: &[UnknownRow]) -> serde_json::Value {
    rows.iter()
        .map(|row| {
            json!({
                "offset": row.offset,
                "commit_ts": row.commit_ts,
                "key_hex": hex::encode(&row.user_key),
                "key": printable(&row.user_key),
            })
        })
        .collect()
}

fn print_unknown_rows(scan: &Scan) {
    let rows = &scan.unknown_rows;
    if rows.is_empty() {
        println!("unknown rows    none");
        return;
    }
    println!(
        "unknown rows    first {} of {} (offset, commit_ts, key hex, key printable)",
        rows.len(),
        scan.counters.unknown
    );
    for row in rows {
        println!(
            "  {:>12} {:>20} {} {}",
            row.offset,
            row.commit_ts,
            hex::encode(&row.user_key),
            printable(&row.user_key)
        );
    }
}

/// `inspect --data-dir`: every snapshot file of a group directory, with what can be
/// told without decoding it.
fn list_data_dir(dir: &Path, as_json: bool) -> Result<(), Failure> {
    let context = || format!("inspect --data-dir {}", dir.display());
    let listing = datadir::read_data_dir(dir).map_err(|e| Failure::from_error(&context(), &e))?;
    let chosen = datadir::choose_snapshot(dir).ok();
    let mut rows = Vec::new();
    for file in &listing.fsm_files {
        let probe = datadir::probe(&file.path).map_err(|e| {
            Failure::usage("io", format!("{}: {}: {e}", context(), file.path.display()))
        })?;
        let picked = chosen.as_ref().is_some_and(|c| c.file.path == file.path);
        rows.push((file, probe, picked));
    }
    if as_json {
        let files: Vec<_> = rows
            .iter()
            .map(|(file, probe, picked)| {
                json!({
                    "path": file.path.to_string_lossy(),
                    "index": file.index,
                    "size": file.size,
                    "container": probe.container,
                    "footer_verified": probe.footer_verified,
                    "snap_term": file.snap_term,
                    "decode_picks": picked,
                })
            })
            .collect();
        let report = json!({
            "data_dir": listing.dir.to_string_lossy(),
            "snapshots": files,
            "choice": chosen.as_ref().map(|c| c.reason.clone()),
        });
        println!("{report:#}");
        return Ok(());
    }
    println!("data dir        {}", listing.dir.display());
    println!(
        "{:<24} {:>8} {:>12}  {:<20} {:<9} raft record",
        "file", "index", "bytes", "container", "footer"
    );
    for (file, probe, picked) in &rows {
        let name = file.path.file_name().unwrap_or_default().to_string_lossy();
        println!(
            "{:<24} {:>8} {:>12}  {:<20} {:<9} {}{}",
            name,
            file.index,
            file.size,
            probe.container,
            if probe.footer_verified {
                "verified"
            } else {
                "BAD"
            },
            file.snap_term
                .map_or_else(|| "none".to_owned(), |t| format!("term {t}")),
            if *picked {
                "  <- decode --data-dir picks this"
            } else {
                ""
            }
        );
    }
    match &chosen {
        Some(c) => println!("choice          {}", c.reason),
        None => println!("choice          none: no snapshot file has its raft record"),
    }
    Ok(())
}

fn wrapper_json(wrapper: Wrapper) -> serde_json::Value {
    match wrapper {
        Wrapper::Native => json!(null),
        Wrapper::HlcV1 { ceiling_ms } => json!({"magic": "EKVTHLC1", "ceiling_ms": ceiling_ms}),
        Wrapper::HlcV2 {
            ceiling_ms,
            cutover_index,
        } => json!({"magic": "EKVTHLC2", "ceiling_ms": ceiling_ms, "cutover_index": cutover_index}),
    }
}

fn footer_json(footer: Option<Footer>) -> serde_json::Value {
    match footer {
        None | Some(Footer::Absent) => json!(null),
        Some(Footer::Verified { crc32c }) => {
            json!({"crc32c": format!("{crc32c:08x}"), "verified": true})
        }
    }
}

fn sst_json(scan: &Scan) -> serde_json::Value {
    let Some(sst) = &scan.sst else {
        return json!(null);
    };
    let m = &sst.manifest;
    let files: Vec<_> = m
        .files
        .iter()
        .zip(sst.tables.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(file, facts)| {
            let mut row = json!({
                "name": file.name,
                "size": file.size,
                "sha256": file.sha256,
                "smallest_hex": hex::encode(&file.smallest),
                "largest_hex": hex::encode(&file.largest),
            });
            if let Some(t) = facts {
                row["table_format"] = json!(format!("Pebblev{}", t.format_version));
                row["checksum"] = json!(t.checksum);
                row["two_level_index"] = json!(t.two_level_index);
                row["index_partitions"] = json!(t.index_partitions);
                row["data_blocks"] = json!(t.data_blocks);
                row["data_blocks_by_compression"] =
                    json!({"none": t.compressed[0], "snappy": t.compressed[1], "zstd": t.compressed[2]});
                row["rows"] = json!(t.rows);
                row["comparator"] = json!(t.comparator);
                row["compression_property"] = json!(t.compression);
            }
            row
        })
        .collect();
    json!({
        "version": m.version,
        "last_commit_ts": m.last_commit_ts,
        "min_retained_ts": m.min_retained_ts,
        "pending_min_retained_ts": m.pending_min_retained_ts,
        "applied_index": m.applied_index,
        "entry_count": m.entry_count,
        "uncompressed_bytes": m.uncompressed_bytes,
        "total_file_bytes": m.total_file_bytes,
        "files": files,
    })
}

fn print_sst(scan: &Scan) {
    let Some(sst) = &scan.sst else {
        return;
    };
    let m = &sst.manifest;
    println!(
        "store format    EKVSSTI1: {} file(s), {} bytes, {} rows, applied index {}, min_retained_ts {}",
        m.files.len(),
        m.total_file_bytes,
        m.entry_count,
        m.applied_index
            .map_or_else(|| "-".to_owned(), |i| i.to_string()),
        m.min_retained_ts
    );
    for (file, t) in m.files.iter().zip(&sst.tables) {
        println!(
            "  {} {:>10} bytes  Pebblev{} {} {} index ({} partitions), {} data blocks (none {}, snappy {}, zstd {}), {} rows, sha256 {}",
            file.name,
            file.size,
            t.format_version,
            t.checksum,
            if t.two_level_index {
                "two-level"
            } else {
                "one-level"
            },
            t.index_partitions,
            t.data_blocks,
            t.compressed[0],
            t.compressed[1],
            t.compressed[2],
            t.rows,
            file.sha256
        );
    }
}

fn render_json(scan: &Scan, index: Option<u64>) -> serde_json::Value {
    let header = scan.header;
    json!({
        "store_format": if scan.sst.is_some() { "EKVSSTI1" } else { "EKVPBBL1" },
        "sst_ingest": sst_json(scan),
        "store_meta": {
            "last_commit_ts": scan.store_meta.last_commit_ts,
            "min_retained_ts": scan.store_meta.min_retained_ts,
            "pending_min_retained_ts": scan.store_meta.pending_min_retained_ts,
            "applied_index": scan.store_meta.applied_index,
        },
        "container": header.wrapper.magic(),
        "wrapper": wrapper_json(header.wrapper),
        "footer": footer_json(scan.footer),
        "footer_missing": scan.footer_missing(),
        "last_commit_ts": header.last_commit_ts,
        "snapshot_index": index,
        "bytes": scan.bytes,
        "counters": scan.counters,
        "mvcc": scan.mvcc,
        "raw_store_rows": scan.raw_rows_skipped,
        "sorted": !scan.sorted_in_scratch,
    })
}

fn print_text(file: &Path, scan: &Scan, index: Option<u64>) {
    let header = scan.header;
    let c = &scan.counters;
    println!("file            {}", file.display());
    println!("container       {}", header.wrapper.magic());
    print_sst(scan);
    match header.wrapper {
        Wrapper::Native => {}
        Wrapper::HlcV1 { ceiling_ms } => println!("hlc ceiling ms  {ceiling_ms}"),
        Wrapper::HlcV2 {
            ceiling_ms,
            cutover_index,
        } => println!("hlc ceiling ms  {ceiling_ms}\ncutover index   {cutover_index}"),
    }
    match scan.footer {
        Some(Footer::Verified { crc32c }) => {
            println!("footer          crc32c {crc32c:08x} verified")
        }
        _ if scan.footer_missing() => println!(
            "footer          MISSING (live nodes always write one: probably truncated; decode refuses it without --allow-missing-footer)"
        ),
        _ => println!("footer          absent"),
    }
    println!("last_commit_ts  {}", header.last_commit_ts);
    match index {
        Some(i) => println!("snapshot index  {i}"),
        None => println!("snapshot index  -"),
    }
    println!(
        "entries         {} (tombstone {}, dynamodb {}, s3 {}, redis {}, sqs {}, internal {}, filesystem {}, unknown {})",
        c.entries,
        c.tombstone,
        c.dynamodb,
        c.s3,
        c.redis,
        c.sqs,
        c.internal,
        c.filesystem,
        c.unknown
    );
    println!(
        "visibility      {} visible, {} shadowed, {} deleted{}",
        scan.mvcc.visible,
        scan.mvcc.shadowed,
        scan.mvcc.deleted,
        if scan.sorted_in_scratch {
            " (input unsorted; sorted in scratch)"
        } else {
            ""
        }
    );
    if scan.raw_rows_skipped > 0 {
        println!("raw store rows  {} skipped", scan.raw_rows_skipped);
    }
}
