//! Driving the codec the way the tests and benches need: the DynamoDB adapter alone,
//! either item layout, any memory budget.

use std::fs;
use std::io;
use std::path::Path;

use elastickv_codec::adapter::{AdapterDecoder, Warnings};
use elastickv_codec::adapters::dynamodb::{DynamoDecodeOptions, DynamoDecoder};
use elastickv_codec::assemble::{self, EncodeError};
use elastickv_codec::dispatch::{Adapter, AdapterSet};
use elastickv_codec::scan::{self, DecodeError, Scan, ScanOptions};
use elastickv_codec::sort::SortOptions;
use elastickv_codec::tree::writer::TreeWriter;

/// The DynamoDB adapter alone.
pub fn dynamodb_only() -> AdapterSet {
    [Adapter::DynamoDb].into_iter().collect()
}

/// Decodes `snapshot` with the DynamoDB adapter into `out_root` (which must be
/// empty), spilling in `scratch` with `memory_budget` bytes per sort; `bundle` selects
/// JSONL bundles of that many bytes.
pub fn decode_snapshot(
    snapshot: &Path,
    out_root: &Path,
    scratch: &Path,
    memory_budget: usize,
    bundle: Option<u64>,
) -> Result<(Scan, Warnings), DecodeError> {
    let decoder = || -> Result<Box<dyn AdapterDecoder>, DecodeError> {
        fs::create_dir_all(out_root).map_err(|e| io_error("create output", e))?;
        let tree = TreeWriter::serial(out_root).map_err(|e| io_error("open output", e.into()))?;
        Ok(Box::new(DynamoDecoder::new(
            tree,
            DynamoDecodeOptions {
                bundle_bytes: bundle,
                memory_budget,
                scratch_dir: scratch.to_path_buf(),
            },
        )))
    };
    let mut adapters: Vec<Box<dyn AdapterDecoder>> = vec![decoder()?];
    let mut reset = |adapters: &mut Vec<Box<dyn AdapterDecoder>>| -> Result<(), DecodeError> {
        adapters.clear();
        if out_root.exists() {
            fs::remove_dir_all(out_root).map_err(|e| io_error("empty output", e))?;
        }
        adapters.push(decoder()?);
        Ok(())
    };
    let options = ScanOptions {
        enabled: dynamodb_only(),
        scratch_dir: scratch.to_path_buf(),
        sort_memory_bytes: memory_budget,
    };
    let mut warnings = Warnings::default();
    let scan = scan::scan_file(
        snapshot,
        &options,
        &mut adapters,
        &mut warnings,
        &mut reset,
        &mut |_, _| {},
    )?;
    Ok((scan, warnings))
}

fn io_error(context: &str, source: io::Error) -> DecodeError {
    DecodeError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Encodes the `dynamodb/` subtree of `root`, every key stamped `commit_ts`.
pub fn encode_tree(
    root: &Path,
    commit_ts: u64,
    scratch: &Path,
    memory_budget: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    assemble::encode_tree_to(
        root,
        &[&elastickv_codec::adapters::dynamodb::SPEC],
        commit_ts,
        SortOptions {
            memory_budget,
            scratch_dir: scratch.to_path_buf(),
        },
        &mut out,
    )?;
    Ok(out)
}
