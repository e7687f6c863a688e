//! `inspect`: what a snapshot file is, without writing anything.

use std::path::PathBuf;

use clap::Args;
use elastickv_codec::container::{Footer, Wrapper};
use elastickv_codec::dispatch::AdapterSet;
use elastickv_codec::scan::{self, Scan, ScanOptions, UnknownRow};
use serde_json::json;

use elastickv_codec::adapter::Warnings;
use elastickv_codec::pipeline::{self, Progress};

use crate::failure::Failure;
use crate::progress::Bar;
use crate::render;

#[derive(Debug, Args)]
pub struct Opts {
    /// The snapshot file (.fsm).
    file: PathBuf,
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
    pipeline::check_scratch_root(opts.scratch_root.as_deref())
        .map_err(|e| Failure::from_dump(&e))?;
    let options = ScanOptions {
        enabled: AdapterSet::ALL,
        scratch_dir: opts.scratch_root.clone().unwrap_or_else(std::env::temp_dir),
        sort_memory_bytes: 256 << 20,
    };
    let mut bar = Bar::for_stderr();
    let total = std::fs::metadata(&opts.file).ok().map(|m| m.len());
    bar.phase("reading", total);
    let scanned = scan::inspect_file(&opts.file, &options, &mut |bytes, entries| {
        bar.update(bytes, entries)
    });
    bar.finish();
    let scan = scanned
        .map_err(|e| Failure::from_error(&format!("inspect {}", opts.file.display()), &e))?;
    let index = scan::snapshot_index_from_path(&opts.file);
    let mut warnings = Warnings::default();
    if scan.footer_missing() {
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
        if opts.unknown {
            report["unknown_rows"] = unknown_rows_json(&scan.unknown_rows);
        }
        println!("{report:#}");
    } else {
        print_text(&opts, &scan, index);
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

fn render_json(scan: &Scan, index: Option<u64>) -> serde_json::Value {
    let header = scan.header;
    json!({
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

fn print_text(opts: &Opts, scan: &Scan, index: Option<u64>) {
    let header = scan.header;
    let c = &scan.counters;
    println!("file            {}", opts.file.display());
    println!("container       {}", header.wrapper.magic());
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
